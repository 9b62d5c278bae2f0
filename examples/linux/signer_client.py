# The non-secure client of `tz-virtio run --nonsecure-linux`: asks the secure Ed25519 signer for its public key, then
# to sign TZ_MESSAGES random messages one at a time, verifies every signature itself and prints one result line:
# TZ result {json}. The signer is reached over AF_VSOCK (TZ_CHANNEL=vsock: CID 2, the host, port TZ_PORT; the result
# and log lines go to /dev/hvc0, the secure world's console, or to stdout with TZ_LOG=stdout where there is none, as
# under QEMU) or as lines on /dev/hvc0 (TZ_CHANNEL=console).
import json, os, socket, termios, time, tty
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

n = int(os.environ.get('TZ_MESSAGES', '100'))
size = int(os.environ.get('TZ_MESSAGE_BYTES', '64'))
channel = os.environ.get('TZ_CHANNEL', 'vsock')
log_to_hvc = channel == 'vsock' and os.environ.get('TZ_LOG', 'hvc0') == 'hvc0'
if channel == 'console' or log_to_hvc:
    hvc = os.open('/dev/hvc0', os.O_RDWR | os.O_NOCTTY)
    tty.setraw(hvc)  # no echo, no line discipline: the bytes go to the device as written
    termios.tcflush(hvc, termios.TCIOFLUSH)

def log(line):
    # vsock: the console is the log; console: it carries the signer, so the log goes to the kernel console (stdout)
    if log_to_hvc:
        os.write(hvc, line.encode() + b'\n')
    else:
        print(line, flush=True)

if channel == 'vsock':
    sock = socket.socket(socket.AF_VSOCK, socket.SOCK_STREAM)
    sock.connect((socket.VMADDR_CID_HOST, int(os.environ.get('TZ_PORT', '1234'))))
    log('TZ log connected to the secure signer over AF_VSOCK (CID %d, port %d)' % sock.getpeername())
    send, recv = sock.sendall, lambda: sock.recv(65536)
else:
    send, recv = (lambda b: os.write(hvc, b)), (lambda: os.read(hvc, 65536))
pending = b''

def request(line):
    global pending
    send(line.encode() + b'\n')
    while b'\n' not in pending:
        chunk = recv()
        if not chunk:
            raise EOFError('the signer closed the connection')
        pending += chunk
    answer, pending = pending.split(b'\n', 1)
    return answer.decode()

k = request('P')
assert k.startswith('K '), k
pub = Ed25519PublicKey.from_public_bytes(bytes.fromhex(k[2:]))
rtt = []
verified = bad = lost = 0
moved = 0
t1 = time.perf_counter()
for seq in range(n):
    msg = os.urandom(size)
    s = time.perf_counter_ns()
    a = request('S %d %s' % (seq, msg.hex()))
    rtt.append((time.perf_counter_ns() - s) / 1000)
    parts = a.split(' ')
    if len(parts) != 3 or parts[0] != 'G' or parts[1] != str(seq):
        lost += 1
        continue
    moved += size + 64
    try:
        pub.verify(bytes.fromhex(parts[2]), msg)
        verified += 1
    except (InvalidSignature, ValueError):
        bad += 1
elapsed = time.perf_counter() - t1
if channel == 'vsock':
    sock.shutdown(socket.SHUT_WR)
    sock.recv(1)  # the signer's end: the connection closes cleanly (SHUTDOWN both ways, then RST)
    sock.close()
rtt.sort()
pick = lambda q: rtt[min(len(rtt) - 1, int(q * len(rtt)))] if rtt else 0
log('TZ result ' + json.dumps({
    'channel': channel, 'sent': n, 'answered': n - lost, 'verified': verified, 'badSignatures': bad, 'lost': lost,
    'messageBytes': size, 'elapsedS': elapsed, 'bytesMoved': moved,
    'rttUs': {'p50': pick(0.5), 'p99': pick(0.99), 'mean': sum(rtt) / len(rtt) if rtt else 0, 'max': rtt[-1] if rtt else 0},
}))
