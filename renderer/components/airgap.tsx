/** The air-gap state (polled) and the UTC clock, shown in the workbench's header and the run sheet's mode bar. */
import { useEffect, useState } from 'react';
import { call } from '../api.js';
import type { Responses } from '../api.js';

export function AirGap() {
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

const utc = (d: Date): string => `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;

export function UtcClock() {
  const [now, setNow] = useState(() => new Date());
  useEffect(() => {
    const t = setInterval(() => setNow(new Date()), 1000);
    return () => clearInterval(t);
  }, []);
  return <time className="clock" dateTime={now.toISOString()} aria-label="clock (UTC)">{utc(now)}</time>;
}
