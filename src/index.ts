// pgha as a library (package.json "exports"): the typed client for scripts, the config loader it
// takes, and the types of what it returns.
export { PghaClient, PghaError, ValidationError, RefusedError, FlowFailedError, WaitTimeout, SCENARIOS } from './client.js';
export type { WaitFlowOptions, Scenario, Problem, FlowSummary, ClusterStatus, ClusterEvent, ClusterHistory } from './client.js';
export { loadConfig, ConfigError } from './config/load.js';
export type { ClusterConfig } from './config/schema.js';
