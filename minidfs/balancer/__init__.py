"""The balancer (docs/balancer.md): evens out DataNode use by moving replicas.

racks.py and plan.py are pure (the NameNode checks each move with racks.py too);
minidfs/client/balancer.py runs the iterations against a cluster.
"""
