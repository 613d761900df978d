"""Fan-out benchmark: one deploy to N sshd hosts by shipbot and by its peers, each in a child process.

Run ``python -m bench.fanout`` (``--sizes 50,200 --tools shipbot,pssh``); see ``bench/RESULTS.md``.
"""
