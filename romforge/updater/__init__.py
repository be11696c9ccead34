"""The phone's side of a release: what LineageOS's Updater app reads and how it judges it.

app.py holds the app's rules, phone.py reads a phone's properties and keys from a release,
api.py writes the static index the app polls (site/api/v1/<device>/<type>/<incr>), install.py
checks a package the way the app's installer and update_engine would, and simulate.py puts
them together for `romforge updater simulate`.
"""
