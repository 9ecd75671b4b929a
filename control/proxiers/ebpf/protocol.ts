// Kubernetes protocol names and the IP protocol numbers the maps hold.
export type Protocol = 'TCP' | 'UDP' | 'SCTP';

const NUMBERS: Record<Protocol, number> = { TCP: 6, UDP: 17, SCTP: 132 };

export function protocolNumber(p: Protocol): number {
  return NUMBERS[p];
}

export function protocolName(n: number): Protocol | `${number}` {
  return (Object.entries(NUMBERS).find(([, v]) => v === n)?.[0] as Protocol | undefined) ?? `${n}`;
}
