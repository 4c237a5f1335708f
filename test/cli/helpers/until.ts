import { flushMicrotasks } from '../../../src/shared/index.js'

/** Lets queued work run until `condition` holds (event ordering, not time); fails after many rounds. */
export async function until(condition: () => boolean, what = 'condition'): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (condition()) return
    await flushMicrotasks(5)
  }
  throw new Error(`gave up waiting for ${what}`)
}
