"""PyG layers and image modules for scene graphs (no training loops)."""
from sgkit.nn.checks import check_edge_index
from sgkit.nn.crn import CRNDecoder, CRNModule
from sgkit.nn.discriminators import MultiscaleDiscriminator, ObjectDiscriminator, PatchDiscriminator, crop_boxes
from sgkit.nn.disen_routing import DSGN, DisenRouting
from sgkit.nn.layout import boxes_to_grid, boxes_to_layout, masks_to_layout
from sgkit.nn.spade import SPADE, SPADEDecoder, SPADEResBlock
from sgkit.nn.source_spade import SourceSPADEDecoder, SourceSPADEResBlock
from sgkit.nn.visual_features import VisualFeatureEncoder, box_pixels, box_region_masks, crop_box_regions, imagenet_normalize
from sgkit.nn.triple_conv import TripleConv, TripleGCN

__all__ = [
    "CRNDecoder",
    "CRNModule",
    "MultiscaleDiscriminator",
    "ObjectDiscriminator",
    "PatchDiscriminator",
    "SPADE",
    "SPADEDecoder",
    "SPADEResBlock",
    "SourceSPADEDecoder",
    "SourceSPADEResBlock",
    "VisualFeatureEncoder",
    "box_pixels",
    "box_region_masks",
    "crop_box_regions",
    "imagenet_normalize",
    "crop_boxes",
    "DSGN",
    "DisenRouting",
    "TripleConv",
    "TripleGCN",
    "boxes_to_grid",
    "check_edge_index",
    "boxes_to_layout",
    "masks_to_layout",
]
