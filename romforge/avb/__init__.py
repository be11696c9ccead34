"""Android Verified Boot 2.0, written from external/avb's public definition (avbtool, libavb).

    structs      AvbFooter, AvbVBMetaImageHeader
    descriptors  property, hashtree, hash, kernel cmdline, chain partition descriptors
    hashtree     the dm-verity hash tree: layout, streamed generation (processes for level 0)
    keys         algorithms, PEM signing keys, the AVB public key format (n0inv, rr)
    vbmeta       vbmeta blobs and images (make_vbmeta), descriptor order as avbtool's
    footer       add_hashtree_footer / add_hash_footer on partition images
    image        reading and checking what a file holds (info)
    verify       following vbmeta and chains like a device, recomputing hashes and trees

Same inputs give the same bytes everywhere: salts are the caller's (derived from the build
inputs), RSA PKCS#1 v1.5 signatures are deterministic and the release string is fixed.
"""

from romforge.avb.footer import (FooterResult, add_hash_footer, add_hashtree_footer, max_hash_image_size,
                                 max_hashtree_image_size)
from romforge.avb.image import AvbImage, format_info, image_info, read_avb_image, signature_problem
from romforge.avb.keys import (ALGORITHMS, AvbKey, bundled_test_key, encode_public_key, extract_public_key,
                               load_avb_key, load_public_key_blob)
from romforge.avb.vbmeta import ChainPartition, VBMetaResult, make_vbmeta
from romforge.avb.verify import VerifyReport, verify_vbmeta

__all__ = [
    "ALGORITHMS", "AvbImage", "AvbKey", "ChainPartition", "FooterResult", "VBMetaResult", "VerifyReport",
    "add_hash_footer", "add_hashtree_footer", "bundled_test_key", "encode_public_key", "extract_public_key",
    "format_info", "image_info", "load_avb_key", "load_public_key_blob", "make_vbmeta", "max_hash_image_size",
    "max_hashtree_image_size", "read_avb_image", "signature_problem", "verify_vbmeta",
]
