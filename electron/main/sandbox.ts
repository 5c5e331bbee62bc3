/**
 * The Chromium sandbox on, or said loudly (issue 19). electron-builder's AppImage launcher adds
 * `--no-sandbox` at run time when user namespaces are unavailable, and a user may pass it to get
 * past the SUID-helper abort of Ubuntu 23.10+ (electron#42510). An air-gapped ceremony app must
 * not run unsandboxed silently: the main process detects it, records a notice, says it in the
 * window title and a warning dialog, and refuses a live ceremony (rehearsals still run).
 */
import { appendFileSync } from 'node:fs';
import type { Handlers } from '../../src/api/handlers.js';

export interface SandboxState {
  readonly sandboxed: boolean;
  /** Why it is off, one line each, for the notice and the dialog. */
  readonly reasons: readonly string[];
}

/** Chromium's switches that turn the renderer sandbox (or its Linux seccomp filter) off. */
export const SANDBOX_OFF_SWITCHES = ['no-sandbox', 'disable-seccomp-filter-sandbox'] as const;

/** From the command line (and Electron's ELECTRON_DISABLE_SANDBOX), before any window. */
export function sandboxFromCommandLine(commandLine: { hasSwitch(name: string): boolean }, env: NodeJS.ProcessEnv): SandboxState {
  const reasons: string[] = [];
  for (const s of SANDBOX_OFF_SWITCHES) if (commandLine.hasSwitch(s)) reasons.push(`started with --${s}`);
  if (env.ELECTRON_DISABLE_SANDBOX !== undefined && env.ELECTRON_DISABLE_SANDBOX !== '') reasons.push('ELECTRON_DISABLE_SANDBOX is set');
  return { sandboxed: reasons.length === 0, reasons };
}

/**
 * After a window has started: Electron reports `sandboxed` per process on macOS and Windows
 * (app.getAppMetrics); on Linux a sandboxed renderer runs under a seccomp-bpf filter, which
 * /proc/PID/status shows as `Seccomp: 2`.
 */
export function sandboxFromProcesses(metrics: readonly { type: string; pid: number; sandboxed?: boolean }[], readStatus: (pid: number) => string | null): SandboxState {
  const reasons: string[] = [];
  for (const m of metrics) {
    if (m.type !== 'Tab') continue;
    if (m.sandboxed === false) reasons.push(`the window's process ${m.pid} runs without the sandbox`);
    else if (m.sandboxed === undefined) {
      const seccomp = /^Seccomp:\s*(\d+)/m.exec(readStatus(m.pid) ?? '')?.[1];
      if (seccomp !== undefined && seccomp !== '2') reasons.push(`the window's process ${m.pid} has no seccomp filter (Seccomp: ${seccomp})`);
    }
  }
  return { sandboxed: reasons.length === 0, reasons };
}

export const UNSANDBOXED_TITLE = 'keyceremony: NO SANDBOX, live ceremonies refused';
export const UNSANDBOXED_ERROR = Object.freeze({
  code: 'APP_UNSANDBOXED',
  message: 'the app runs without the Chromium sandbox, so a live ceremony is refused (rehearsals still run)',
  fix: 'start the app with the sandbox on: install the .deb (it sets up chrome-sandbox), or enable user namespaces for the AppImage, and never pass --no-sandbox (README, "The desktop app")',
});

/** One JSON line per start without the sandbox, beside the app's other records (userData). */
export function recordUnsandboxed(file: string, state: SandboxState, at: Date, append: (file: string, line: string) => void = appendFileSync): void {
  append(file, `${JSON.stringify({ at: at.toISOString(), event: 'app.unsandboxed', reasons: state.reasons, effect: 'live ceremonies refused' })}\n`);
}

/** The handler table with `ceremony.start` refused while `current()` says the sandbox is off. */
export function refuseLiveWhenUnsandboxed(handlers: Handlers, current: () => SandboxState): Handlers {
  return Object.freeze({
    ...handlers,
    'ceremony.start': async (request: unknown) => (current().sandboxed ? handlers['ceremony.start'](request) : { ok: false as const, error: UNSANDBOXED_ERROR }),
  });
}
