"""The ladder owns the run: the plan of rungs (plan.py), the loop over them (run.py), the Rung protocol it reads
(rung.py), results and their files (result.py), scoring (score.py), cost (cost.py), the recommendation
(recommend.py) and the run folder (folder.py). Import the module you need; this package imports nothing itself.
"""
