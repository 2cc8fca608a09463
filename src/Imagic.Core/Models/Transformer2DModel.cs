using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Imagic.Models;

/// <summary>diffusers' <c>GEGLU</c>: one projection to twice the width, half of it gated by GELU.</summary>
public sealed class GEGLU : Module<Tensor, Tensor>
{
    public readonly Linear proj;

    public GEGLU(int dimIn, int dimOut) : base(nameof(GEGLU))
    {
        proj = nn.Linear(dimIn, dimOut * 2);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        var parts = proj.call(x).chunk(2, dim: -1);
        return (parts[0] * functional.gelu(parts[1])).MoveToOuterDisposeScope();
    }
}

/// <summary>diffusers' <c>FeedForward</c> with GEGLU: keys <c>net.0.proj</c> and <c>net.2</c>.</summary>
public sealed class FeedForward : Module<Tensor, Tensor>
{
    public readonly ModuleList<Module<Tensor, Tensor>> net;

    public FeedForward(int dim, int mult = 4) : base(nameof(FeedForward))
    {
        int inner = dim * mult;
        net = new ModuleList<Module<Tensor, Tensor>>(new GEGLU(dim, inner), nn.Dropout(0.0), nn.Linear(inner, dim));
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => net[0].call(x).ConsumedBy(net[2].call);
}

/// <summary>
/// diffusers' <c>BasicTransformerBlock</c> (layer_norm type): self-attention, cross-attention to the
/// text, then a GEGLU feed-forward, each pre-normed and residual.
/// </summary>
public sealed class BasicTransformerBlock : Module
{
    public readonly LayerNorm norm1;
    public readonly Attention attn1;
    public readonly LayerNorm norm2;
    public readonly Attention attn2;
    public readonly LayerNorm norm3;
    public readonly FeedForward ff;

    public BasicTransformerBlock(int dim, int heads, int dimHead, int crossAttentionDim) : base(nameof(BasicTransformerBlock))
    {
        norm1 = Layers.LayerNorm(dim, 1e-5);
        attn1 = new Attention(dim, null, heads, dimHead, bias: false);
        norm2 = Layers.LayerNorm(dim, 1e-5);
        attn2 = new Attention(dim, crossAttentionDim, heads, dimHead, bias: false);
        norm3 = Layers.LayerNorm(dim, 1e-5);
        ff = new FeedForward(dim);
        RegisterComponents();
    }

    public Tensor Forward(Tensor x, Tensor context)
    {
        using var scope = torch.NewDisposeScope();
        x = attn1.Forward(norm1.call(x)).Plus(x);
        x = attn2.Forward(norm2.call(x), context).Plus(x);
        return ff.call(norm3.call(x)).Plus(x).MoveToOuterDisposeScope();
    }
}

/// <summary>
/// diffusers' <c>Transformer2DModel</c> for continuous (image) input: GroupNorm, project in (1×1 conv
/// in SD 1.x, linear in SD 2.x with <c>use_linear_projection</c>), transformer blocks over the H·W
/// tokens, project out, and a residual.
/// </summary>
public sealed class Transformer2DModel : Module
{
    public readonly GroupNorm norm;
    public readonly Module<Tensor, Tensor> proj_in;
    public readonly ModuleList<BasicTransformerBlock> transformer_blocks;
    public readonly Module<Tensor, Tensor> proj_out;

    readonly bool _linearProjection;
    readonly int _inner;

    public Transformer2DModel(int heads, int dimHead, int inChannels, int numLayers, int crossAttentionDim,
        int normGroups, bool useLinearProjection) : base(nameof(Transformer2DModel))
    {
        _inner = heads * dimHead;
        _linearProjection = useLinearProjection;
        norm = Layers.GroupNorm(normGroups, inChannels, 1e-6);
        proj_in = useLinearProjection ? nn.Linear(inChannels, _inner) : Layers.Conv(inChannels, _inner, 1);
        transformer_blocks = new ModuleList<BasicTransformerBlock>(
            Enumerable.Range(0, numLayers).Select(_ => new BasicTransformerBlock(_inner, heads, dimHead, crossAttentionDim)).ToArray());
        proj_out = useLinearProjection ? nn.Linear(_inner, inChannels) : Layers.Conv(_inner, inChannels, 1);
        RegisterComponents();
    }

    public Tensor Forward(Tensor x, Tensor context)
    {
        using var scope = torch.NewDisposeScope();
        long b = x.shape[0], h = x.shape[2], w = x.shape[3];
        var y = norm.call(x);
        if (_linearProjection)
            y = proj_in.call(ToTokens(y, b, h, w));
        else
            y = ToTokens(proj_in.call(y), b, h, w);
        foreach (var block in transformer_blocks)
            y = block.Forward(y, context);
        y = _linearProjection
            ? FromTokens(proj_out.call(y), b, h, w)
            : proj_out.call(FromTokens(y, b, h, w));
        return y.Plus(x).MoveToOuterDisposeScope();
    }

    /// <summary>Its parameters and those of any LoRA adapters on its attention layers (not registered children).</summary>
    public IEnumerable<Tensor> ParametersWithAdapters() =>
        parameters().Concat(transformer_blocks.SelectMany(b => b.attn1.AdapterParameters().Concat(b.attn2.AdapterParameters())));

    static Tensor ToTokens(Tensor t, long b, long h, long w) => t.permute(0, 2, 3, 1).reshape(b, h * w, t.shape[1]);

    /// <summary>
    /// Tokens back to a feature map, made contiguous as diffusers does. The permuted view would otherwise carry
    /// channels-last strides into proj_out, the residual sum and the next GroupNorm, whose channels-last backward in
    /// libtorch 2.10 crashes (a segmentation fault in GroupNormBackwardKernelImplChannelsLastInternal) when its weight
    /// needs a gradient and its input does not: fine-tuning any part of the UNet after a transformer block.
    /// </summary>
    static Tensor FromTokens(Tensor t, long b, long h, long w) => t.reshape(b, h, w, t.shape[2]).permute(0, 3, 1, 2).contiguous();
}
