// PM2: each MediaMesh service as its own process, restarted when it dies, with a log file per
// service. For production-like runs with Kafka, Redis and PostgreSQL:
//
//   npm install --prefix ops                       # pm2 into the project, not globally
//   cargo build --release -p mediamesh
//   MEDIAMESH_ADMIN_EMAIL=… MEDIAMESH_ADMIN_PASSWORD=… ops/node_modules/.bin/pm2 start ecosystem.config.js
//   ops/node_modules/.bin/pm2 status; ops/node_modules/.bin/pm2 logs mediamesh-cms-core
//
// Every MEDIAMESH_* variable of the environment pm2 starts in reaches every service; the three
// below default to servers on this machine. MEDIAMESH_BIN picks the binary, MEDIAMESH_LOG_DIR the
// log directory.
const path = require('path');

const bin = process.env.MEDIAMESH_BIN || path.join(__dirname, 'target', 'release', 'mediamesh');
const dataDir = process.env.MEDIAMESH_DATA_DIR || path.join(__dirname, 'data');
const logDir = process.env.MEDIAMESH_LOG_DIR || path.join(dataDir, 'logs');

const inherited = Object.fromEntries(Object.entries(process.env).filter(([key]) => key.startsWith('MEDIAMESH_')));
const env = {
  MEDIAMESH_DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/mediamesh',
  MEDIAMESH_KAFKA_BROKERS: '127.0.0.1:9092',
  MEDIAMESH_REDIS_URL: 'redis://127.0.0.1:6379',
  MEDIAMESH_LOG_FORMAT: 'json',
  ...inherited,
  MEDIAMESH_DATA_DIR: dataDir,
};

const service = (name) => ({
  name: `mediamesh-${name}`,
  script: bin,
  args: [name],
  interpreter: 'none',
  env,
  autorestart: true,
  min_uptime: '5s',
  max_restarts: 100,
  restart_delay: 500,
  exp_backoff_restart_delay: 200,
  // SIGTERM first: servers drain, the indexer commits its batch; SIGKILL after 15 s.
  kill_timeout: 15000,
  out_file: path.join(logDir, `${name}.log`),
  error_file: path.join(logDir, `${name}.error.log`),
  time: false,
});

module.exports = {
  apps: ['auth', 'cms-core', 'indexer', 'gateway-public', 'gateway-cms'].map(service),
};
