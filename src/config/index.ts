export { configSchema, DEFAULT_DIRECT_PORT, DEFAULT_HOST, type ConfigInput, type ParsedConfig } from './schema.js';
export { parseConfig, loadConfig, type Config } from './load.js';
export { CONFIG_FILE, DEFAULT_DATA_DIR, pathFromConfig } from './paths.js';
export { writeSecretFile, readSecretFile, readClusterSecret } from './secret-files.js';
