using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Training;

/// <summary>
/// Detects NaN and infinite values in losses, gradients and weights. Training calls <see cref="Check"/> after
/// each backward pass, so that a diverging run stops at its first bad step, before the optimizer writes NaN
/// into the weights and before a checkpoint can save them; the last checkpoint on disk stays the good one.
/// </summary>
/// <remarks>
/// A finite float32 tensor's sum in float64 is always finite (3.4e38 × 2⁶³ elements is far below 1.8e308),
/// while any NaN or ±∞ element makes it NaN or ±∞. So one reduction per tensor decides, without a boolean
/// mask as large as the tensor.
/// </remarks>
public static class NonFinite
{
    /// <summary>
    /// Throws an <see cref="ImagicException"/> naming <paramref name="stage"/> and <paramref name="step"/> if the
    /// loss or any gradient of <paramref name="optimizer"/>'s parameters is NaN or infinite. Call it between
    /// <c>backward()</c> and <see cref="Adam.Step"/>.
    /// </summary>
    /// <param name="step">The 1-based step whose loss this is.</param>
    public static void Check(Tensor loss, Adam optimizer, string stage, int step)
    {
        double value = loss.item<float>();
        if (!double.IsFinite(value))
            throw Stopped(stage, step, $"the loss is {Describe(value)}", optimizer.LearningRate);
        if (FirstNonFinite(optimizer.Parameters.Select(p => (p.Name, p.Param.grad))) is string name)
            throw Stopped(stage, step, $"the gradient of '{name}' is not finite", optimizer.LearningRate);
    }

    /// <summary>True if no element of <paramref name="tensor"/> is NaN or infinite (always true for integer tensors).</summary>
    public static bool IsAllFinite(Tensor tensor)
    {
        if (!torch.is_floating_point(tensor)) return true;
        using var _ = torch.no_grad();
        using var sum = tensor.sum(ScalarType.Float64);
        return double.IsFinite(sum.item<double>());
    }

    /// <summary>How many elements of <paramref name="tensor"/> are NaN or infinite.</summary>
    public static long CountNonFinite(Tensor tensor)
    {
        if (!torch.is_floating_point(tensor)) return 0;
        using var _ = torch.no_grad();
        using var finite = tensor.isfinite();
        using var bad = finite.logical_not();
        using var count = bad.sum();
        return count.item<long>();
    }

    /// <summary>The name of the first tensor holding a NaN or infinite value, or null if all are finite; null tensors are skipped.</summary>
    public static string? FirstNonFinite(IEnumerable<(string Name, Tensor? Value)> tensors)
    {
        var list = tensors.Where(t => t.Value is not null).ToList();
        if (list.Count == 0) return null;
        using (var scope = torch.NewDisposeScope())
        using (torch.no_grad())
        {
            // One reduction per tensor and a single sync for the common, all-finite case.
            var sums = torch.stack(list.Select(t => t.Value!.sum(ScalarType.Float64)).ToArray());
            if (double.IsFinite(sums.sum().item<double>())) return null;
        }
        return list.First(t => !IsAllFinite(t.Value!)).Name;
    }

    static ImagicException Stopped(string stage, int step, string what, double learningRate) => new(
        $"{stage}, step {step}: {what}, so training stopped (the last checkpoint is kept). " +
        $"The learning rate {learningRate:G3} is probably too high: try a lower one.");

    static string Describe(double value) => double.IsNaN(value) ? "NaN" : value > 0 ? "+infinity" : "-infinity";
}
