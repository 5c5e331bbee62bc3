/** Share receipts (the public record of each share, signed through the custody manifest): strict reading of hostile files. */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { encodeReceipt, parseReceipt, receiptPath, RECEIPT_PATH } from '../../src/backup/receipts.js';
import type { ShareReceipt } from '../../src/backup/receipts.js';
import { DocumentError } from '../../src/docs/problems.js';

const good: ShareReceipt = { ceremony: 'q4-custody', backupKey: 'backup-v2', custodian: 'dave', index: 4, threshold: 3, total: 5,
  commitment: `sha256:${'ab'.repeat(32)}`, holder: { kind: 'token', token: 'card-dave', serial: '3d80f803cdea8fe5' } };
const enc = (o: unknown): Uint8Array => new TextEncoder().encode(typeof o === 'string' ? o : JSON.stringify(o));
const codes = (bytes: Uint8Array): string[] => {
  try {
    parseReceipt(bytes);
  } catch (err) {
    expect(err).toBeInstanceOf(DocumentError);
    return (err as DocumentError).problems.map((p) => `${p.code} ${p.path}`);
  }
  return [];
};

describe('share receipts', () => {
  test('round-trip, token and paper holders', () => {
    expect(parseReceipt(enc(encodeReceipt(good)))).toEqual(good);
    const paper = { ...good, holder: { kind: 'paper' as const } };
    expect(parseReceipt(enc(encodeReceipt(paper)))).toEqual(paper);
    expect(RECEIPT_PATH.exec(receiptPath('backup-v2', 'dave'))?.slice(1)).toEqual(['backup-v2', 'dave']);
  });
  test('every bad field is named: unknown and missing members, wrong types, index beyond N, M above N, bad commitment, holder kinds', () => {
    const base = JSON.parse(encodeReceipt(good)) as Record<string, unknown>;
    expect(codes(enc({ ...base, extra: 1 }))).toEqual(['DOCUMENT_UNKNOWN_MEMBER $.extra']);
    const { commitment: _c, ...missing } = base;
    expect(codes(enc(missing))).toEqual(['DOCUMENT_MISSING_MEMBER $.commitment']);
    expect(codes(enc({ ...base, index: 6 }))).toEqual(['DOCUMENT_BAD_VALUE index']);
    expect(codes(enc({ ...base, threshold: 6 }))).toEqual(['DOCUMENT_BAD_VALUE threshold']);
    expect(codes(enc({ ...base, commitment: 'sha256:AB' }))).toEqual(['DOCUMENT_BAD_VALUE commitment']);
    expect(codes(enc({ ...base, holder: { kind: 'usb' , token: 'x', serial: '1' } }))).toEqual(['DOCUMENT_BAD_VALUE holder.kind']);
    expect(codes(enc({ ...base, holder: { kind: 'paper', token: 'x' } }))).toEqual(['DOCUMENT_UNKNOWN_MEMBER holder.token']);
    expect(codes(enc({ ...base, custodian: '../x' }))).toEqual(['DOCUMENT_BAD_VALUE custodian']);
  });
  test('truncated, oversized, duplicate members, not JSON', () => {
    const text = encodeReceipt(good);
    expect(codes(enc(text.slice(0, text.length - 5)))[0]).toMatch(/^DOCUMENT_NOT_JSON/);
    expect(codes(enc(`${text.slice(0, -2)}, "pad": "${'x'.repeat(5000)}"}`))[0]).toMatch(/^DOCUMENT_TOO_LARGE/);
    expect(codes(enc(text.replace('"index": 4', '"index": 4, "index": 1')))[0]).toMatch(/^DOCUMENT_DUPLICATE_MEMBER/);
    expect(codes(new Uint8Array([0xff, 0xfe, 0x00])).length).toBe(1);
  });
  test('property: arbitrary bytes are refused with a DocumentError, never anything else', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 300 }), (b) => {
      expect(() => parseReceipt(b)).toThrow(DocumentError);
    }));
  });
});
