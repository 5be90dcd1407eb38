"""Domain code of the transcription pipeline, shipped to Lambda as a layer.

Plain functions over plain data (media sniffing, job naming, transcript parsing and
rendering) plus one adapter module (``aws``) that holds every AWS call.
"""
