// Child process: the fake Ollama upstream the benchmark proxies to.
import { FakeOllama, type FakeOllamaBehavior } from '../src/simulator/fake-ollama.js'

const behavior = JSON.parse(process.argv[2] ?? '{}') as Partial<FakeOllamaBehavior>
const fake = await new FakeOllama({ behavior }).start()
process.send?.({ port: fake.port })
process.on('disconnect', () => void fake.close().finally(() => process.exit(0)))
