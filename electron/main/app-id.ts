/**
 * The app's identity: equal to the `build.appId` of package.json (electron-builder writes it into
 * the Windows shortcut and the macOS bundle), so Windows groups the window under the installed
 * shortcut instead of showing a second taskbar icon. test/electron checks the two are equal.
 */
export const APP_ID = 'invalid.example.keyceremony';
