# Runs a command on a real pseudo-terminal, types each line of argv[1] (a JSON list) when the
# output so far ends with a prompt ending in ": ", and prints a JSON report of everything the
# terminal showed. Used to test PIN prompts without echo.
import json, os, pty, select, sys, time
answers = json.loads(sys.argv[1]); cmd = sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execvp(cmd[0], cmd)
out = b''; deadline = time.time() + 60
while time.time() < deadline:
    r, _, _ = select.select([fd], [], [], 0.2)
    if r:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
        if answers and out.rstrip(b'\r\n').endswith(b':') or (answers and out.endswith(b': ')):
            os.write(fd, answers.pop(0).encode() + b'\r')
_, status = os.waitpid(pid, 0)
print(json.dumps({"status": os.waitstatus_to_exitcode(status), "output": out.decode('utf8', 'replace')}))
