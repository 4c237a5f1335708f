import net from 'node:net'

/**
 * Holds a loopback port for the emulated Ollama while it is not running, so no other program
 * (a parallel test, an outgoing connection) takes it between power cycles and nginx's upstream
 * stays valid for the VM's life. It accepts and drops connections at once: nginx answers 502,
 * as when the container is not up.
 */
export class PortReservation {
  readonly port: number
  readonly #server: net.Server

  private constructor(server: net.Server, port: number) {
    this.#server = server
    this.port = port
  }

  /** Listens on `host:port` (0: a free port). Rejects when the port is taken. */
  static async hold(host: string, port = 0): Promise<PortReservation> {
    const server = net.createServer((socket) => socket.destroy())
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen({ host, port, exclusive: true }, () => {
        server.off('error', reject)
        resolve()
      })
    })
    const address = server.address()
    if (!address || typeof address !== 'object') throw new Error('no port reserved')
    return new PortReservation(server, address.port)
  }

  /** Frees the port (for the real server to listen on it right after). */
  release(): Promise<void> {
    return new Promise((resolve) => this.#server.close(() => resolve()))
  }
}
