"""Custom Rasa components for the Abonent NLU project.

Imported by Rasa as ``rasa_addons.<module>``: the ``nlu/`` directory must be on PYTHONPATH
both when training and when serving the model.
"""
