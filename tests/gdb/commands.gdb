# tests/gdb/commands.gdb: what tests/gdb/run.sh asks gdb to print; run.sh checks each line.
break stop_here
run
up
print shape
print t
print big
print none
print w
print y
print undefined
print *w.node_._M_ptr
