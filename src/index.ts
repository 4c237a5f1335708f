/**
 * Programmatic use: build the gateway or the provisioner from a config object.
 * @module
 */
export { ExollamaError, UserError, Secret } from './shared/index.js'
