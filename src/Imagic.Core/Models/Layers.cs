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
            norm.weight!.fill_(1.0);
            norm.bias!.zero_();
        }
        return norm;
    }

    public static LayerNorm LayerNorm(int dim, double eps) => nn.LayerNorm(new long[] { dim }, eps);

    public static Conv2d Conv(int inChannels, int outChannels, int kernel, int stride = 1, int padding = -1) =>
        nn.Conv2d(inChannels, outChannels, kernel, stride: stride, padding: padding < 0 ? (kernel - 1) / 2 : padding);

    /// <summary>Activation functions by their diffusers/transformers config names.</summary>
    public static Tensor Activate(string name, Tensor x) => name switch
    {
        "silu" or "swish" => functional.silu(x),
        "gelu" => functional.gelu(x),
        // OpenAI CLIP's approximation: x * sigmoid(1.702 x).
        "quick_gelu" => x * torch.sigmoid(1.702 * x),
        "relu" => functional.relu(x),
        "mish" => functional.mish(x),
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
