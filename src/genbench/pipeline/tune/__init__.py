"""The tuning study (``make tune``; not a DVC stage: ``make repro`` does not run it), in this
folder like a stage: :mod:`.run` runs the study and writes reports/tune.json, conf/tuned/ and its
figure; :mod:`.report` is its section of the report, which the report stage includes where
dvc.yaml passes ``--section tune reports/tune.json reports/tune``. Nothing is imported here."""
