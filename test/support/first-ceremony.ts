/**
 * A template that follows an earlier ceremony of its deployment (it loads the custodian set that
 * one formed; its first manifest follows that one's last) made into the deployment's first
 * ceremony, for tests that rehearse its own steps without the earlier ceremony's files: the set is
 * formed by the opening steps of `backup-drill` (the custodians' keys, the custodian set) and its
 * manifests begin the chain. Every other step (master key, custody, manifest, export, drill) is
 * kept as the template has it. A template that needs none of this is returned as it is.
 */
import { TEMPLATES } from '../../src/ceremony/templates.js';

type Script = { steps: { action: string; previous?: string | null }[] };

export function asFirstCeremony(template: string): object {
  const t = JSON.parse(JSON.stringify(TEMPLATES[template])) as Script;
  const opening = (TEMPLATES['backup-drill'] as Script).steps.filter((x) => x.action === 'custodian-keys' || x.action === 'custodian-set');
  t.steps = t.steps.flatMap((x) => (x.action === 'load-custodian-set' ? opening : [x.action === 'manifest' ? { ...x, previous: null } : x]));
  return t;
}
