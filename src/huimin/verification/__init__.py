"""Civil-data feeds (死亡、迁移、出生、残疾证): ingest, quarantine, match, effects proposed and
confirmed. Feeds are used only to decide and pay benefits, never to find people to punish."""
