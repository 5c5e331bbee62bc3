/** Payload types of FORMATS.md §2 and the `spec` string each payload carries. */
export const PAYLOAD_TYPES = {
  custodians: 'application/vnd.keyceremony.custodians+json',
  rotation: 'application/vnd.keyceremony.rotation+json',
  drill: 'application/vnd.keyceremony.drill+json',
} as const;

export type DocumentKind = keyof typeof PAYLOAD_TYPES;

export const SPECS: Readonly<Record<DocumentKind, string>> = {
  custodians: 'keyceremony/custodian-set@1',
  rotation: 'keyceremony/rotation-manifest@1',
  drill: 'keyceremony/drill-report@1',
};

export function kindOfPayloadType(t: string): DocumentKind | null {
  for (const [k, v] of Object.entries(PAYLOAD_TYPES)) if (v === t) return k as DocumentKind;
  return null;
}
