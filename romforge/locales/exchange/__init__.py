"""A locale pack in the formats translation platforms speak (gettext PO, XLIFF 1.2), and back.

units.py is the Android side (a values file as units, and units written back byte for
byte), po.py and xliff.py one format each, transfer.py the export/import folders.
"""

from romforge.locales.exchange.transfer import Exchanged, export_pack, import_pack

__all__ = ["Exchanged", "export_pack", "import_pack"]
