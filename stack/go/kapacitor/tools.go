//go:build tools

// Package tools pins the Kapacitor commands this module builds.
package tools

import (
	_ "github.com/influxdata/kapacitor/cmd/kapacitor"
	_ "github.com/influxdata/kapacitor/cmd/kapacitord"
)
