"""The scene-graph data model: :class:`~torch_geometric.data.HeteroData` graphs and their IO."""
from .batch import SceneBatch, check_scenes, collate_scenes
from .convert import (
    from_dgl,
    from_grakel,
    from_networkx,
    from_xf,
    reduce_multi_edges,
    to_dgl,
    to_grakel,
    to_networkx,
    to_xf,
)
from .corrupt import corrupt
from .edits import EDIT_MODES, EditPlan, add_node, change_predicate, plan_edit, remove_node, replace_node
from .edit_pairs import edit_from_pair, plan_pair
from ._checks import as_graph_list
from .io import load_sg2im_json, load_sg2im_json_files, load_vg_sgg_h5, save_sg2im_json
from .orderings import (
    ORDERINGS,
    bfs_ordering,
    get_ordering,
    hierarchical_ordering,
    identity_ordering,
    random_ordering,
)
from .scene_graph import EDGE, NODE, SceneGraph, from_triplets, num_objects, num_relations, to_triplets, validate
from .sequence import (
    GraphSequence,
    SequenceBatch,
    SequenceTokens,
    collate_sequences,
    decode_sequence,
    encode_graph,
    encode_xf,
    uncollate_sequences,
)
from .vocab import UnknownNameError, Vocabulary

__all__ = [
    "EDIT_MODES",
    "EditPlan",
    "add_node",
    "change_predicate",
    "edit_from_pair",
    "plan_edit",
    "plan_pair",
    "remove_node",
    "replace_node",
    "SceneBatch",
    "check_scenes",
    "collate_scenes",
    "ORDERINGS",
    "GraphSequence",
    "SequenceBatch",
    "SequenceTokens",
    "bfs_ordering",
    "collate_sequences",
    "decode_sequence",
    "encode_graph",
    "encode_xf",
    "get_ordering",
    "hierarchical_ordering",
    "identity_ordering",
    "random_ordering",
    "uncollate_sequences",
    "EDGE",
    "NODE",
    "SceneGraph",
    "UnknownNameError",
    "Vocabulary",
    "as_graph_list",
    "corrupt",
    "from_dgl",
    "from_grakel",
    "from_networkx",
    "from_triplets",
    "from_xf",
    "load_sg2im_json",
    "load_sg2im_json_files",
    "load_vg_sgg_h5",
    "num_objects",
    "num_relations",
    "reduce_multi_edges",
    "save_sg2im_json",
    "to_dgl",
    "to_grakel",
    "to_networkx",
    "to_triplets",
    "to_xf",
    "validate",
]

# real-data loaders (Visual Genome, COCO, SIMSG CLEVR edit pairs) and the VG150 rank table
from .clevr_edits import load_clevr_edit_pairs  # noqa: E402
from .coco import load_coco_scene_graphs  # noqa: E402
from .orderings import vg150_object_ranks  # noqa: E402
from .visual_genome import SCENEGRAPHGEN_PREPARATION, prepare_scene_graphs, read_vg_sgg_dicts  # noqa: E402

__all__ += [
    "SCENEGRAPHGEN_PREPARATION",
    "load_clevr_edit_pairs",
    "load_coco_scene_graphs",
    "prepare_scene_graphs",
    "read_vg_sgg_dicts",
    "vg150_object_ranks",
]
