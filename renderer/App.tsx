import { useEffect, useState } from 'react';
import { call } from './api.js';
import type { Responses } from './api.js';
import { Banners } from './components/common.js';
import { BackupScreen } from './screens/Backup.js';
import { CeremonyScreen } from './screens/Ceremony.js';
import { CustodiansScreen } from './screens/Custodians.js';
import { ExportScreen } from './screens/Export.js';
import { KeysScreen } from './screens/Keys.js';
import { ManifestsScreen } from './screens/Manifests.js';
import { TokensScreen } from './screens/Tokens.js';
import { VerifyScreen } from './screens/Verify.js';

/** Adding a screen: a component in screens/, a line here, its channels in src/api, its E2E test. */
const SCREENS = [
  { id: 'tokens', title: 'Tokens', Screen: TokensScreen },
  { id: 'keys', title: 'Keys', Screen: KeysScreen },
  { id: 'custodians', title: 'Custodians', Screen: CustodiansScreen },
  { id: 'manifests', title: 'Manifests', Screen: ManifestsScreen },
  { id: 'verify', title: 'Verify', Screen: VerifyScreen },
  { id: 'export', title: 'Export', Screen: ExportScreen },
  { id: 'backup', title: 'Backup', Screen: BackupScreen },
  { id: 'ceremony', title: 'Ceremony', Screen: CeremonyScreen },
] as const;

function AirGap() {
  const [s, setS] = useState<Responses['airgap.status'] | null>(null);
  useEffect(() => {
    const poll = () => void call('airgap.status', {}).then(setS, () => setS(null));
    poll();
    const t = setInterval(poll, 5000);
    return () => clearInterval(t);
  }, []);
  if (s === null) return <span className="airgap unknown">Air gap: unknown</span>;
  return s.online
    ? <span className="airgap online" role="alert">Network is UP ({s.interfaces.map((i) => i.name).join(', ')}): disconnect before a real ceremony</span>
    : <span className="airgap offline">Air-gapped: no network interface is up</span>;
}

function ModuleInfo() {
  const [info, setInfo] = useState<Responses['app.info'] | null>(null);
  useEffect(() => { void call('app.info', {}).then(setInfo, () => setInfo(null)); }, []);
  if (info === null) return null;
  if (info.moduleError !== null) return <span className="module bad">{info.moduleError.code}: {info.moduleError.fix}</span>;
  return <span className={`module${info.simulation ? ' sim' : ''}`}>{info.simulation ? 'SIMULATION tokens (SoftHSM2)' : 'PKCS#11'}: {info.module}</span>;
}

export function App() {
  const [screen, setScreen] = useState<(typeof SCREENS)[number]['id']>('tokens');
  const current = SCREENS.find((s) => s.id === screen) ?? SCREENS[0];
  return (
    <div className="app">
      <header>
        <h1>keyceremony</h1>
        <AirGap />
        <ModuleInfo />
      </header>
      <nav aria-label="Ceremony steps">
        {SCREENS.map((s, i) => (
          <button key={s.id} type="button" aria-current={s.id === screen ? 'page' : undefined} onClick={() => setScreen(s.id)}>{i + 1}. {s.title}</button>
        ))}
      </nav>
      <main>
        <Banners />
        <current.Screen />
      </main>
    </div>
  );
}
