using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Training;

/// <summary>
/// Adam (Kingma and Ba, 2015) with PyTorch's update rule and optional decoupled weight decay (AdamW).
/// Unlike TorchSharp's optimizer, its whole state (moments and step count) can be exported and
/// restored as named tensors, which is what makes an interrupted edit or training run resume exactly.
/// </summary>
public sealed class Adam : IDisposable
{
    readonly IReadOnlyList<(string Name, Tensor Param)> _params;
    readonly Tensor[] _m;
    readonly Tensor[] _v;

    /// <summary>The named tensors this optimizer updates.</summary>
    public IReadOnlyList<(string Name, Tensor Param)> Parameters => _params;

    public double LearningRate { get; set; }
    public double Beta1 { get; }
    public double Beta2 { get; }
    public double Epsilon { get; }
    public double WeightDecay { get; }

    /// <summary>Steps taken so far; bias correction depends on it.</summary>
    public long StepCount { get; private set; }

    /// <param name="parameters">Named trainable tensors; the names key the exported state.</param>
    /// <param name="lr">Learning rate.</param>
    /// <param name="weightDecay">Decoupled weight decay (AdamW); 0 gives plain Adam. Default 0.</param>
    public Adam(IEnumerable<(string Name, Tensor Param)> parameters, double lr, double beta1 = 0.9, double beta2 = 0.999,
        double eps = 1e-8, double weightDecay = 0)
    {
        _params = parameters.ToList();
        LearningRate = lr;
        Beta1 = beta1;
        Beta2 = beta2;
        Epsilon = eps;
        WeightDecay = weightDecay;
        _m = _params.Select(p => torch.zeros_like(p.Param).DetachFromDisposeScope()).ToArray();
        _v = _params.Select(p => torch.zeros_like(p.Param).DetachFromDisposeScope()).ToArray();
    }

    public void ZeroGrad()
    {
        foreach (var (_, p) in _params)
            p.grad?.zero_();
    }

    /// <summary>One update from the current gradients. Parameters without a gradient are skipped.</summary>
    public void Step()
    {
        StepCount++;
        double bc1 = 1 - Math.Pow(Beta1, StepCount);
        double bc2Sqrt = Math.Sqrt(1 - Math.Pow(Beta2, StepCount));
        double stepSize = LearningRate / bc1;
        using var _ = torch.no_grad();
        // Explicit Scalars, disposed after the loop: an implicitly converted one is left to the finalizer, which
        // can free it while libtorch still reads it (a training run died at step ~3500 with an INTERNAL ASSERT
        // in pow(Scalar); TorchSharp PR #1434). Same values, so the same results.
        using var decay = (1 - LearningRate * WeightDecay).ToScalar();
        using var beta1 = Beta1.ToScalar();
        using var oneMinusBeta1 = (1 - Beta1).ToScalar();
        using var beta2 = Beta2.ToScalar();
        using var oneMinusBeta2 = (1 - Beta2).ToScalar();
        using var bc2 = bc2Sqrt.ToScalar();
        using var epsilon = Epsilon.ToScalar();
        using var negativeStep = (-stepSize).ToScalar();
        // add_(Scalar) alone converts its alpha of 1 implicitly, the same hazard: pass it explicitly.
        using var one = 1.0.ToScalar();
        for (int i = 0; i < _params.Count; i++)
        {
            // A scope per parameter: the temporaries are as large as the parameter, and kept for the
            // whole loop they would add twice the model's size to peak memory.
            using var scope = torch.NewDisposeScope();
            var p = _params[i].Param;
            var g = p.grad;
            if (g is null) continue;
            if (WeightDecay != 0)
                p.mul_(decay);
            _m[i].mul_(beta1).add_(g, alpha: oneMinusBeta1);
            _v[i].mul_(beta2).addcmul_(g, g, value: oneMinusBeta2);
            var denom = _v[i].sqrt().div_(bc2).add_(epsilon, one);
            p.addcdiv_(_m[i], denom, value: negativeStep);
        }
    }

    /// <summary>The optimizer state as named tensors (copies), for a checkpoint.</summary>
    public Dictionary<string, Tensor> ExportState()
    {
        var state = new Dictionary<string, Tensor>(StringComparer.Ordinal)
        {
            ["step"] = torch.tensor(new[] { StepCount }),
        };
        for (int i = 0; i < _params.Count; i++)
        {
            state[$"m.{_params[i].Name}"] = _m[i].clone();
            state[$"v.{_params[i].Name}"] = _v[i].clone();
        }
        return state;
    }

    /// <summary>Restores a state written by <see cref="ExportState"/> for the same parameters.</summary>
    public void ImportState(IReadOnlyDictionary<string, Tensor> state)
    {
        if (!state.TryGetValue("step", out var step))
            throw new ImagicException("The optimizer checkpoint has no 'step' entry.");
        using var _ = torch.no_grad();
        for (int i = 0; i < _params.Count; i++)
        {
            string name = _params[i].Name;
            if (!state.TryGetValue($"m.{name}", out var m) || !state.TryGetValue($"v.{name}", out var v))
                throw new ImagicException($"The optimizer checkpoint has no moments for '{name}'.");
            _m[i].copy_(m);
            _v[i].copy_(v);
        }
        StepCount = step.item<long>();
    }

    public void Dispose()
    {
        foreach (var t in _m) t.Dispose();
        foreach (var t in _v) t.Dispose();
    }
}
