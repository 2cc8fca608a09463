using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using static TorchSharp.torch.nn;

namespace Imagic.Models;

/// <summary>
/// Sinusoidal timestep features, diffusers' <c>get_timestep_embedding</c>:
/// <c>exp(-ln(10000)·i/(half − freq_shift))</c> frequencies, sin then cos, or cos then sin when
/// <c>flip_sin_to_cos</c> (SD's setting).
/// </summary>
public static class TimestepFeatures
{
    public static Tensor Embed(Tensor timesteps, int dim, bool flipSinToCos, double freqShift, double maxPeriod = 10000)
    {
        using var scope = torch.NewDisposeScope();
        int half = dim / 2;
        var exponent = -Math.Log(maxPeriod) * torch.arange(0, half, dtype: ScalarType.Float32, device: timesteps.device) / (half - freqShift);
        var freqs = torch.exp(exponent);
        var args = timesteps.to_type(ScalarType.Float32).unsqueeze(1) * freqs.unsqueeze(0);
        var emb = flipSinToCos
            ? torch.cat(new[] { torch.cos(args), torch.sin(args) }, dim: -1)
            : torch.cat(new[] { torch.sin(args), torch.cos(args) }, dim: -1);
        if (dim % 2 == 1)
            emb = functional.pad(emb, new long[] { 0, 1 });
        return emb.MoveToOuterDisposeScope();
    }
}

/// <summary>diffusers' <c>TimestepEmbedding</c>: linear → act → linear.</summary>
public sealed class TimestepEmbedding : Module<Tensor, Tensor>
{
    public readonly Linear linear_1;
    public readonly Linear linear_2;
    readonly string _act;

    public TimestepEmbedding(int inChannels, int timeEmbedDim, string act = "silu") : base(nameof(TimestepEmbedding))
    {
        _act = act;
        linear_1 = nn.Linear(inChannels, timeEmbedDim);
        linear_2 = nn.Linear(timeEmbedDim, timeEmbedDim);
        RegisterComponents();
    }

    public override Tensor forward(Tensor x) => linear_2.call(Layers.Activate(_act, linear_1.call(x)));
}
