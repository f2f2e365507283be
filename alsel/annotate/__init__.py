"""People answer a round's queries: the Label Studio round trip (:mod:`.labelstudio`)."""
