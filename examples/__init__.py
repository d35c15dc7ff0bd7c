"""Example MapReduce jobs and the corpus generator the tests and benchmarks use.

Each example module defines one Job class at its top level and runs inline or on the
cluster, e.g. `mapreduce run examples/wordcount.py --input /books --output /wc`.
"""
