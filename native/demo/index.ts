/** The demo pool generator's public face (`sieve demo`). */
export { generateDemoPool, type DemoOptions, type DemoSummary } from './generate.js';
export { PLANTED, TOPICS, DOMAINS } from './topics.js';
