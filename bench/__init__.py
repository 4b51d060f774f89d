"""`make bench`: Abonent against Rasa 3.6's own full stack on the same message mix (bench/run.py),
and the NLU client's own benchmark (bench/bench_nlu.py)."""
