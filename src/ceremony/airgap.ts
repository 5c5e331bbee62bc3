/** The air-gap guard (issue 7): a real ceremony does not start while a non-loopback network interface is up. */
import { networkInterfaces } from 'node:os';

export function networkInterfacesUp(): { name: string; addresses: string[] }[] {
  return Object.entries(networkInterfaces())
    .map(([name, addrs]) => ({ name, addresses: (addrs ?? []).filter((a) => !a.internal).map((a) => a.address) }))
    .filter((i) => i.addresses.length > 0);
}
