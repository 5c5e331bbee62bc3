# Runs a command on a real pseudo-terminal as a custodian would sit at it, for the paper-share
# words of `backup split` and `drill` (test/backup/cli-drill.test.ts). argv[1] is a JSON plan:
#   answers:    what to type at each prompt (output ending in ": "), in order; in each, {words:ID}
#               is the words shown for custodian ID, {messy:ID} the same in capitals between runs
#               of spaces and tabs, {wrong:ID} the same with its third word replaced, {ctrl-c} is ^C
#   stdoutFile: if set, the command's stdout goes to this file instead of the terminal
#   words:      words known in advance, by custodian (for a drill)
# The words of each custodian are read off the screen as `backup split` shows them. Prints a JSON
# report: exit status, everything the terminal showed, and the words read.
import json, os, pty, re, select, sys, time

plan = json.loads(sys.argv[1]); cmd = sys.argv[2:]
answers = list(plan.get('answers', []))
words = dict(plan.get('words', {}))
pid, fd = pty.fork()
if pid == 0:
    if plan.get('stdoutFile'):
        out_fd = os.open(plan['stdoutFile'], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.dup2(out_fd, 1)
    os.execvp(cmd[0], cmd)

SHOWN = re.compile(r'([a-z0-9._-]+): the passphrase of your paper share is these 8 words[^\n]*\n[^\n]*\n\n((?:[^\n]*\n){2})')

def fill(answer):
    if answer == '{ctrl-c}':
        return b'\x03'
    def sub(m):
        kind, who = m.group(1), m.group(2)
        w = words[who].split(' ')
        if kind == 'messy':
            return '  ' + ' \t  '.join(x.upper() for x in w) + '   '
        if kind == 'wrong':
            w[2] = 'ability' if w[2] == 'abandon' else 'abandon'
        return ' '.join(w)
    return re.sub(r'\{(words|messy|wrong):([a-z0-9._-]+)\}', sub, answer).encode('utf8') + b'\r'

out = b''; since = 0; deadline = time.time() + 120
while time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 0.2)
    if not r:
        continue
    try:
        chunk = os.read(fd, 4096)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
    for m in SHOWN.finditer(out.decode('utf8', 'replace').replace('\r\n', '\n')):
        words[m.group(1)] = ' '.join(re.findall(r'\d+ ([a-z]+)', m.group(2)))
    if answers and out[since:].endswith(b': '):
        os.write(fd, fill(answers.pop(0)))
        since = len(out)
_, status = os.waitpid(pid, 0)
print(json.dumps({"status": os.waitstatus_to_exitcode(status), "output": out.decode('utf8', 'replace'), "words": words}))
