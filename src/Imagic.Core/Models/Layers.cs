using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Imagic.Models;

/// <summary>Small factories shared by the model files, so every layer is built the same way.</summary>
internal static class Layers
{
    /// <summary>
    /// GroupNorm with weight 1 and bias 0. TorchSharp's <c>nn.GroupNorm</c> leaves its affine
    /// parameters uninitialised (<c>torch.empty</c>), unlike PyTorch, so a fresh model could output NaN.
    /// </summary>
    public static GroupNorm GroupNorm(int groups, int channels, double eps)
    {
        if (channels % groups != 0)
            throw new ImagicException($"GroupNorm: {channels} channels cannot be split into {groups} groups; check norm_num_groups in the model config.");
        var norm = nn.GroupNorm(groups, channels, eps, affine: true);
        using (torch.no_grad())
        {
            norm.weight!.FillWith(1.0);
            norm.bias!.zero_();
        }
        return norm;
    }

    public static LayerNorm LayerNorm(int dim, double eps) => nn.LayerNorm(new long[] { dim }, eps);

    public static Conv2d Conv(int inChannels, int outChannels, int kernel, int stride = 1, int padding = -1) =>
        nn.Conv2d(inChannels, outChannels, kernel, stride: stride, padding: padding < 0 ? (kernel - 1) / 2 : padding);

    /// <summary>
    /// <paramref name="conv"/> applied to <paramref name="x"/>, as <c>conv.call(x)</c>, except for channel counts that
    /// libtorch's CPU convolution gets wrong: those run with their channels zero-padded to a multiple of
    /// <see cref="ConvChannelBlock"/>, which gives the same result exactly (the padding adds zeros), and the extra output
    /// channels are dropped.
    /// </summary>
    /// <remarks>
    /// On an AVX-512 CPU (AMD EPYC, Zen 5), libtorch 2.10's float32 CPU convolution (oneDNN), checked against float64
    /// (which libtorch runs without oneDNN), was wrong for 3×3 kernels:
    /// <list type="bullet">
    /// <item>the forward, for more than 16 input channels that are not a multiple of 16 (20, 24, 40: off by 1.6 where the
    /// output's largest value was 8.2);</item>
    /// <item>the input gradient, for output channels that are not a multiple of 16: the UNet's 96 → 4 <c>conv_out</c> off by
    /// 1.4 where the gradient's largest value was 2.9, the VAE's 32 → 3 and 64 → 8 likewise, some runs NaN, the values
    /// changing from run to run.</item>
    /// </list>
    /// Multiples of 16, up to 16 input channels in the forward, and 1×1 kernels were exact. Capping oneDNN's instruction
    /// set at AVX2 did not cure it (AVX did, at half the speed). Padded as here, every case was exact
    /// (<c>ConvolutionTests</c>). The output channels are padded only when a backward will need x's gradient, so
    /// inference with the usual channel counts takes the plain path.
    /// </remarks>
    public static Tensor Convolve(this Conv2d conv, Tensor x)
    {
        long inChannels = conv.in_channels, outChannels = conv.out_channels;
        bool padIn = inChannels > ConvChannelBlock && inChannels % ConvChannelBlock != 0;
        bool padOut = outChannels % ConvChannelBlock != 0 && x.requires_grad && torch.is_grad_enabled();
        if (!(padIn || padOut) || conv.groups != 1 || conv.padding_mode != PaddingModes.Zeros || conv.padding_type is not null)
            return conv.call(x);
        using var scope = torch.NewDisposeScope();
        Tensor weight = conv.weight!;
        Tensor? bias = conv.bias;
        // functional.pad lists (before, after) pairs from the last dimension backwards: 6 entries reach dimension 1, 8 dimension 0.
        if (padIn)
        {
            long extra = RoundUp(inChannels) - inChannels;
            x = functional.pad(x, new long[] { 0, 0, 0, 0, 0, extra });
            weight = functional.pad(weight, new long[] { 0, 0, 0, 0, 0, extra });
        }
        if (padOut)
        {
            long extra = RoundUp(outChannels) - outChannels;
            weight = functional.pad(weight, new long[] { 0, 0, 0, 0, 0, 0, 0, extra });
            if (bias is not null)
                bias = functional.pad(bias, new long[] { 0, extra });
        }
        var y = functional.conv2d(x, weight, bias, strides: conv.stride, padding: conv.padding, dilation: conv.dilation);
        return (padOut ? y[.., ..(int)outChannels].contiguous() : y).MoveToOuterDisposeScope();
    }

    static long RoundUp(long channels) => (channels + ConvChannelBlock - 1) / ConvChannelBlock * ConvChannelBlock;

    /// <summary>The channel multiple that <see cref="Convolve"/> pads to.</summary>
    public const int ConvChannelBlock = 16;

    /// <summary>Activation functions by their diffusers/transformers config names.</summary>
    public static Tensor Activate(string name, Tensor x) => name switch
    {
        "silu" or "swish" => functional.silu(x),
        "gelu" => functional.gelu(x),
        // OpenAI CLIP's approximation: x * sigmoid(1.702 x).
        "quick_gelu" => x * torch.sigmoid(x.Times(1.702)),
        "relu" => functional.relu(x),
        // x·tanh(softplus(x)); TorchSharp's mish makes Scalars implicitly (TensorExtensions). exp overflowing to ∞ still gives x.
        "mish" => x * torch.tanh(torch.log1p(torch.exp(x))),
        _ => throw new ImagicException($"Unsupported activation function '{name}'."),
    };

    /// <summary>
    /// <see cref="Activate"/> that may overwrite <paramref name="x"/> instead of allocating a new tensor: in place for SiLU
    /// when no gradient is being recorded (autograd would need the input), out of place otherwise. For a tensor nobody
    /// reads afterwards, such as a GroupNorm's output; the values are the same either way.
    /// </summary>
    public static Tensor ActivateConsumed(string name, Tensor x) =>
        name is "silu" or "swish" && !torch.is_grad_enabled() ? x.silu_() : Activate(name, x);

    public static void CheckActivation(string name, string where)
    {
        if (name is not ("silu" or "swish" or "gelu" or "quick_gelu" or "relu" or "mish"))
            throw new ImagicException($"Unsupported activation '{name}' in {where}; supported: silu, gelu, quick_gelu, relu, mish.");
    }
}
