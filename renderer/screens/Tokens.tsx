/**
 * The tokens of every PKCS#11 library the app has (issue 16): one table per library, named by what
 * the library says of itself and where the configuration names it. A library that would not open
 * shows its code, what happened and the fix in its place, and the other libraries' tokens are listed
 * all the same.
 */
import { useId } from 'react';
import type { Responses } from '../api.js';
import { useTokens } from '../components/common.js';

type List = Responses['tokens.list'];
type LibraryView = List['libraries'][number];
type TokenView = List['tokens'][number];

const pinState = (t: TokenView): string => (t.pinLocked ? 'locked' : t.pinFinalTry ? 'final try' : t.pinCountLow ? 'few tries left' : 'ok');
const abilities = (t: TokenView): string => [t.capabilities.ed25519 && 'Ed25519 signing', t.capabilities.aes256 && 'AES-256 keys', t.capabilities.aesKeyWrapPad && 'AES key wrap',
  t.capabilities.rsaOaep && 'RSA-OAEP'].filter(Boolean).join(', ');

function Problem({ error }: { error: NonNullable<LibraryView['error']> }) {
  return (
    <div className="banner error">
      <strong>{error.code}</strong>: {error.message}.<br /><span className="fix">What to do: {error.fix}.</span>
    </div>
  );
}

function Library({ library: l, tokens }: { library: LibraryView; tokens: readonly TokenView[] }) {
  const id = useId();
  const name = l.description ?? l.path ?? 'No PKCS#11 library';
  return (
    <section className="doc library" aria-labelledby={id}>
      <h3 id={id}>{l.error === null ? name : `${l.path ?? 'No PKCS#11 library'}: not opened`}</h3>
      <p className="hint">Configured by {l.configured}.{l.simulation ? ' Simulation tokens (SoftHSM2): for rehearsals and tests, not a real ceremony.' : ''}</p>
      {l.error !== null ? (
        <>
          <Problem error={l.error} />
          <p>This library's tokens cannot be used until it opens; the other libraries' tokens can.</p>
        </>
      ) : (
        <table>
          <caption className="sr">Tokens in {name}</caption>
          <thead><tr><th>Label</th><th>Serial</th><th>Model</th><th>PIN</th><th>Can do</th></tr></thead>
          <tbody>
            {tokens.map((t, i) => (
              <tr key={`${t.serial}\u0000${t.label}\u0000${i}`}>
                <td>{t.label}</td><td><code>{t.serial}</code></td><td>{t.manufacturer} {t.model}</td><td>{pinState(t)}</td><td>{abilities(t)}</td>
              </tr>
            ))}
            {tokens.length === 0 && <tr><td colSpan={5}>No token found in this library. Insert a token, then choose "Detect tokens again".</td></tr>}
          </tbody>
        </table>
      )}
    </section>
  );
}

export function TokensScreen() {
  const { tokens, libraries, profile, reload } = useTokens();
  const failed = libraries.filter((l) => l.error !== null).length;
  return (
    <section aria-labelledby="tokens-h">
      <h2 id="tokens-h">Tokens</h2>
      <p className="lead">Insert the ceremony HSM and the custodians' cards. Each token is named by its label and serial, never by slot number, and listed under the PKCS#11 library it is in.</p>
      <button type="button" onClick={reload}>Detect tokens again</button>
      {profile !== null && (
        <section className="doc" aria-label="Ceremony profile">
          <p>Libraries from the ceremony profile <code>{profile.path}</code>{profile.error === null ? '.' : ', which cannot be used:'}</p>
          {profile.error !== null && <Problem error={profile.error} />}
        </section>
      )}
      {libraries.length > 1 && <p>{libraries.length} libraries{failed > 0 ? `, ${failed} of them not opened` : ''}.</p>}
      {libraries.map((l, i) => <Library key={`${l.path ?? ''}\u0000${i}`} library={l} tokens={tokens.filter((t) => t.library === l.path)} />)}
      <p className="next">Next: generate keys on these tokens under <strong>Keys</strong>.</p>
    </section>
  );
}
