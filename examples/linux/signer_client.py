# The non-secure client of `tz-virtio run --nonsecure-linux`: asks the secure Ed25519 signer (through /dev/hvc0,
# Linux's virtio_console) for its public key, then to sign TZ_MESSAGES random messages one at a time, verifies every
# signature itself and prints one result line: TZ result {json}.
import json, os, termios, time, tty
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

n = int(os.environ.get('TZ_MESSAGES', '100'))
size = int(os.environ.get('TZ_MESSAGE_BYTES', '64'))
fd = os.open('/dev/hvc0', os.O_RDWR | os.O_NOCTTY)
tty.setraw(fd)  # no echo, no line discipline: the bytes go to the device as written
termios.tcflush(fd, termios.TCIOFLUSH)
pending = b''

def request(line):
    global pending
    os.write(fd, line.encode() + b'\n')
    while b'\n' not in pending:
        chunk = os.read(fd, 65536)
        if not chunk:
            raise EOFError('/dev/hvc0 closed')
        pending += chunk
    answer, pending = pending.split(b'\n', 1)
    return answer.decode()

t0 = time.perf_counter()
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
rtt.sort()
pick = lambda q: rtt[min(len(rtt) - 1, int(q * len(rtt)))] if rtt else 0
print('TZ result ' + json.dumps({
    'sent': n, 'answered': n - lost, 'verified': verified, 'badSignatures': bad, 'lost': lost,
    'messageBytes': size, 'elapsedS': elapsed, 'bytesMoved': moved,
    'rttUs': {'p50': pick(0.5), 'p99': pick(0.99), 'mean': sum(rtt) / len(rtt) if rtt else 0, 'max': rtt[-1] if rtt else 0},
}), flush=True)
