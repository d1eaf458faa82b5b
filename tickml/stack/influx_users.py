"""InfluxDB's users and databases, made and kept in step with the secrets each time InfluxDB starts (the
influxdb service's ``after_start``).

InfluxDB 1.x with ``auth-enabled`` lets exactly one statement through
without a login while it has no user at all: creating the first admin. So
the runner creates ``tickml-admin`` that way on a fresh data folder, then,
logged in as it, creates every account of ``tickml.secrets.INFLUXDB_ACCOUNTS``
that is missing, sets each one's password to the secrets' (so a rotation
takes effect at the next start) and grants what the table says.
"""

from __future__ import annotations

from tickml import secrets
from tickml.config import subscribed_databases
from tickml.influx import Influx, InfluxError


def create_databases() -> None:
    """The users, then the databases the tasks read. Users first: with auth on, nothing else gets in.
    Databases before Kapacitor starts: it subscribes at start to the databases that exist then, and to new
    ones only at its next sync (a minute later), so a point written in between would escape the tasks."""
    ensure_users()
    client = Influx()
    for db in subscribed_databases():
        client.execute(f'CREATE DATABASE "{db}"')


def ensure_users() -> list[str]:
    """Create or update InfluxDB's users and their grants; returns the users created."""
    admin_user, admin_password = secrets.influxdb_login("tickml-admin")
    anonymous = Influx(username=None, password=None)
    created = []
    try:
        existing = {row["user"] for row in Influx(username=admin_user, password=admin_password).query("SHOW USERS")}
    except InfluxError as exc:
        if "create admin user first" not in str(exc) and "no admin user" not in str(exc):
            raise
        anonymous.execute(f"CREATE USER \"{admin_user}\" WITH PASSWORD '{_quoted(admin_password)}' WITH ALL PRIVILEGES")
        created.append(admin_user)
        existing = {admin_user}
    admin = Influx(username=admin_user, password=admin_password)
    for user, grants in secrets.INFLUXDB_ACCOUNTS.items():
        password = secrets.influxdb_login(user)[1]
        if user not in existing:
            admin.execute(f"CREATE USER \"{user}\" WITH PASSWORD '{_quoted(password)}'")
            created.append(user)
        else:
            admin.execute(f"SET PASSWORD FOR \"{user}\" = '{_quoted(password)}'")
        if grants == "ALL":
            admin.execute(f'GRANT ALL PRIVILEGES TO "{user}"')
            continue
        for grant in grants.split(", "):
            privilege, database = grant.split()
            admin.execute(f'CREATE DATABASE "{database}"')
            admin.execute(f'GRANT {privilege} ON "{database}" TO "{user}"')
    return created


def _quoted(password: str) -> str:
    """A password inside InfluxQL single quotes (the secrets' are URL-safe base64; this guards any other)."""
    return password.replace("\\", "\\\\").replace("'", "\\'")
