import { useEffect, useState } from 'react';
import { call } from './api.js';
import type { Responses } from './api.js';
import { AirGap } from './components/airgap.js';
import { Banners } from './components/common.js';
import { active, useRun } from './run.js';
import { RunSheet } from './screens/RunSheet.js';
import { BackupScreen } from './screens/Backup.js';
import { CeremonyScreen } from './screens/Ceremony.js';
import { CustodiansScreen } from './screens/Custodians.js';
import { ExportScreen } from './screens/Export.js';
import { KeysScreen } from './screens/Keys.js';
import { KeysOverTimeScreen } from './screens/KeysOverTime.js';
import { ManifestsScreen } from './screens/Manifests.js';
import { TokensScreen } from './screens/Tokens.js';
import { VerifyScreen } from './screens/Verify.js';
import { useApp } from './state.js';

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
  { id: 'keys-over-time', title: 'Keys over time', Screen: KeysOverTimeScreen },
] as const;

type Info = Responses['app.info'];

function useInfo(): Info | null {
  const [info, setInfo] = useState<Info | null>(null);
  useEffect(() => { void call('app.info', {}).then(setInfo, () => setInfo(null)); }, []);
  return info;
}

function ModuleInfo({ info }: { info: Info | null }) {
  if (info === null) return null;
  if (info.moduleError !== null) return <span className="module bad">{info.moduleError.code}: {info.moduleError.fix}</span>;
  return <span className={`module${info.simulation ? ' sim' : ''}`}>{info.simulation ? 'SIMULATION tokens (SoftHSM2)' : 'PKCS#11'}: {info.module}</span>;
}

/**
 * Started without the Chromium sandbox (issue 19; electron/main/sandbox.ts detects it): a red banner
 * over the workbench and the run sheet alike, saying what it means and how to turn the sandbox on,
 * in README's words ("The desktop app"). Nothing where no desktop shell runs the app (sandbox null).
 */
function SandboxOff({ info }: { info: Info | null }) {
  const s = info?.sandbox ?? null;
  if (s === null || s.sandboxed) return null;
  return (
    <div className="sandbox-off" role="alert">
      <p><strong>The Chromium sandbox is off</strong>{s.reasons.length > 0 ? ` (${s.reasons.join('; ')})` : ''}: live ceremonies are refused. Rehearsals still run, and each records in its audit log that the app ran without the sandbox.</p>
      <p>To enable it: for the deb, keep <code>chrome-sandbox</code> owned by root with mode 4755 or install the AppArmor profile that allows unprivileged user namespaces for the app; for the AppImage, enable user namespaces (<code>sysctl kernel.unprivileged_userns_clone=1</code>, or the AppArmor profile on Ubuntu). Never start the app with <code>--no-sandbox</code>.</p>
    </div>
  );
}

/** In the workbench, a run that is open stays in view, one click from its run sheet. */
function RunBar() {
  const { ref, status, showSheet } = useRun();
  if (ref === null) return null;
  const now = status?.now === null || status?.now === undefined ? undefined : status.steps[status.now - 1];
  const waits = status !== null && status.pinRequest !== null ? `a hand-over waits (${status.pinRequest.label})` : 'a question waits';
  const state = ref.runId === null ? 'not started' : status === null ? 'connecting' : active(status) ? (status.state === 'waiting' ? waits : 'running') : status.state === 'done' ? 'finished' : 'stopped';
  return (
    <div className={`runbar ${ref.mode}`} role="status" aria-label="open run">
      <span><strong>{ref.mode === 'live' ? 'LIVE run' : 'Rehearsal'}</strong>: {ref.plan.title}, {state}{now === undefined ? '' : `, step ${now.number}: ${now.actor} acts now`}.</span>
      <button type="button" className="primary" onClick={() => showSheet(true)}>Return to the run sheet</button>
    </div>
  );
}

export function App() {
  const [screen, setScreen] = useState<(typeof SCREENS)[number]['id']>('tokens');
  const { busy } = useApp();
  const r = useRun();
  const info = useInfo();
  const current = SCREENS.find((s) => s.id === screen) ?? SCREENS[0];
  const sheet = r.ref !== null && r.sheet;
  // the workbench stays mounted behind the run sheet: what a screen holds survives a run
  return (
    <>
    <SandboxOff info={info} />
    {sheet && <RunSheet />}
    <div className="app" hidden={sheet}>
      <header>
        <h1>keyceremony</h1>
        <span className="mode-badge workbench" aria-label="mode">WORKBENCH: not recorded</span>
        <AirGap />
        <ModuleInfo info={info} />
      </header>
      <nav aria-label="Ceremony steps">
        {SCREENS.map((s, i) => (
          // navigation waits while an operation runs: leaving would lose what it returns
          <button key={s.id} type="button" aria-current={s.id === screen ? 'page' : undefined} disabled={busy !== null && s.id !== screen} onClick={() => setScreen(s.id)}>{i + 1}. {s.title}</button>
        ))}
        {busy !== null && <small className="hint">Wait for the operation to finish.</small>}
      </nav>
      <main>
        <RunBar />
        {!sheet && <Banners />}
        <current.Screen />
      </main>
    </div>
    </>
  );
}
