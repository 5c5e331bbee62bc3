import { useTokens } from '../components/common.js';

export function TokensScreen() {
  const { tokens, reload } = useTokens();
  return (
    <section aria-labelledby="tokens-h">
      <h2 id="tokens-h">Tokens</h2>
      <p className="lead">Insert the ceremony HSM and the custodians' cards. Each token is named by its label and serial, never by slot number.</p>
      <button type="button" onClick={reload}>Detect tokens again</button>
      <table>
        <thead><tr><th>Label</th><th>Serial</th><th>Model</th><th>PIN</th><th>Can do</th></tr></thead>
        <tbody>
          {tokens.map((t) => (
            <tr key={t.serial}>
              <td>{t.label}</td><td><code>{t.serial}</code></td><td>{t.manufacturer} {t.model}</td>
              <td>{t.pinLocked ? 'locked' : t.pinFinalTry ? 'final try' : t.pinCountLow ? 'few tries left' : 'ok'}</td>
              <td>{[t.capabilities.ed25519 && 'Ed25519 signing', t.capabilities.aes256 && 'AES-256 keys', t.capabilities.aesKeyWrapPad && 'AES key wrap', t.capabilities.rsaOaep && 'RSA-OAEP'].filter(Boolean).join(', ')}</td>
            </tr>
          ))}
          {tokens.length === 0 && <tr><td colSpan={5}>No token found. Insert a token, then choose "Detect tokens again".</td></tr>}
        </tbody>
      </table>
      <p className="next">Next: generate keys on these tokens under <strong>Keys</strong>.</p>
    </section>
  );
}
