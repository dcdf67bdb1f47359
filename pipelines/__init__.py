"""The KFP pipeline and its ablation variants (shipped as fgsgl.pipelines)."""
