"""The parts of the local stack each concern adds: importing a module registers its servers,
provisioning steps and loops with ``infra.local.stack``."""
