export { createDashboardHandler } from './handler.js'
export type { DashboardHandler } from './handler.js'
