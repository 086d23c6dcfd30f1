-- closedloop database layout: one schema per service; each service owns its data.
--
-- Run as a superuser against the closedloop database, e.g.
--   psql -v ON_ERROR_STOP=1 -d closedloop -f infra/postgres/init.sql
-- The postgres image runs it automatically from /docker-entrypoint-initdb.d on first start.
--
-- Schemas are always created. The per-service login roles are created only when their
-- password is given, either as a psql variable
--   psql -v detector_password=... -v incidents_password=... ...
-- or through the environment of the psql process (CLOSEDLOOP_DETECTOR_DB_PASSWORD, ...).
-- Without passwords (local docker-compose) the services connect as the database owner.
-- Re-running the script is safe: schemas and roles are created only if missing.

\set ON_ERROR_STOP on

CREATE SCHEMA IF NOT EXISTS detector;
CREATE SCHEMA IF NOT EXISTS incidents;
CREATE SCHEMA IF NOT EXISTS notifier;
CREATE SCHEMA IF NOT EXISTS capa;

-- Nobody but a schema's owner creates objects; `public` is not a shared dumping ground.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- Environment variables fill in passwords not given with -v (\getenv leaves a variable
-- untouched when its environment variable is unset).
\getenv detector_password CLOSEDLOOP_DETECTOR_DB_PASSWORD
\getenv incidents_password CLOSEDLOOP_INCIDENTS_DB_PASSWORD
\getenv notifier_password CLOSEDLOOP_NOTIFIER_DB_PASSWORD
\getenv capa_password CLOSEDLOOP_CAPA_DB_PASSWORD

-- Each block: a login role that owns exactly one schema and finds its tables there by
-- default. No role is granted anything on another service's schema. CREATE on the database
-- is granted because each service runs `CREATE SCHEMA IF NOT EXISTS <its schema>` at start-up,
-- and PostgreSQL checks that privilege even when the schema already exists; it does not open
-- any other schema to the role.

\if :{?detector_password}
SELECT format('CREATE ROLE %I LOGIN', 'closedloop_detector')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'closedloop_detector') \gexec
ALTER ROLE closedloop_detector WITH LOGIN PASSWORD :'detector_password';
ALTER ROLE closedloop_detector SET search_path = detector;
SELECT format('GRANT CONNECT, CREATE ON DATABASE %I TO closedloop_detector', current_database()) \gexec
ALTER SCHEMA detector OWNER TO closedloop_detector;
\else
\echo 'closedloop_detector not created: no detector_password / CLOSEDLOOP_DETECTOR_DB_PASSWORD'
\endif

\if :{?incidents_password}
SELECT format('CREATE ROLE %I LOGIN', 'closedloop_incidents')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'closedloop_incidents') \gexec
ALTER ROLE closedloop_incidents WITH LOGIN PASSWORD :'incidents_password';
ALTER ROLE closedloop_incidents SET search_path = incidents;
SELECT format('GRANT CONNECT, CREATE ON DATABASE %I TO closedloop_incidents', current_database()) \gexec
ALTER SCHEMA incidents OWNER TO closedloop_incidents;
\else
\echo 'closedloop_incidents not created: no incidents_password / CLOSEDLOOP_INCIDENTS_DB_PASSWORD'
\endif

\if :{?notifier_password}
SELECT format('CREATE ROLE %I LOGIN', 'closedloop_notifier')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'closedloop_notifier') \gexec
ALTER ROLE closedloop_notifier WITH LOGIN PASSWORD :'notifier_password';
ALTER ROLE closedloop_notifier SET search_path = notifier;
SELECT format('GRANT CONNECT, CREATE ON DATABASE %I TO closedloop_notifier', current_database()) \gexec
ALTER SCHEMA notifier OWNER TO closedloop_notifier;
\else
\echo 'closedloop_notifier not created: no notifier_password / CLOSEDLOOP_NOTIFIER_DB_PASSWORD'
\endif

\if :{?capa_password}
SELECT format('CREATE ROLE %I LOGIN', 'closedloop_capa')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'closedloop_capa') \gexec
ALTER ROLE closedloop_capa WITH LOGIN PASSWORD :'capa_password';
ALTER ROLE closedloop_capa SET search_path = capa;
SELECT format('GRANT CONNECT, CREATE ON DATABASE %I TO closedloop_capa', current_database()) \gexec
ALTER SCHEMA capa OWNER TO closedloop_capa;
\else
\echo 'closedloop_capa not created: no capa_password / CLOSEDLOOP_CAPA_DB_PASSWORD'
\endif
