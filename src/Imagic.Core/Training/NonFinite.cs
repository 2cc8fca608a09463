using TorchSharp;
using static TorchSharp.torch;

namespace Imagic.Training;

/// <summary>
/// Detects NaN and infinite values in losses, gradients and weights. Training calls <see cref="Check"/> after
/// each backward pass, so that a diverging run stops at its first bad step, before the optimizer writes NaN
/// into the weights and before a checkpoint can save them; the last checkpoint on disk stays the good one.
/// </summary>
/// <remarks>
/// Any NaN or ±∞ element makes a tensor's sum NaN or ±∞, so one float32 sum per tensor clears the common, all-finite
/// case without a boolean mask as large as the tensor. A non-finite sum can also come from finite values whose sum
/// overflows, so that case is decided by an exact element count. On a 1 GiB float32 file the float32 sum took about
/// 40 to 50 % of the time of reading the file from the page cache and copying it into the model, a float64 sum 165 % and
/// <c>isfinite().all()</c> 270 % (docs/performance.md).
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

    /// <summary>
    /// Throws an <see cref="ImagicException"/> when <paramref name="tensor"/>, the output of a sampling step or of the VAE,
    /// holds NaN or infinite values, so that a run that went wrong stops with one line naming where instead of writing a
    /// black image (NaN becomes 0 in 8 bits). One sum per call (<see cref="IsAllFinite"/>): negligible beside the step
    /// that made the tensor.
    /// </summary>
    /// <param name="where">What produced it, starting a sentence ("Sampling step 3 of 25 (t = 919)").</param>
    /// <param name="hint">What to try, ending the sentence.</param>
    public static void CheckOutput(Tensor tensor, string where, string hint)
    {
        if (!IsAllFinite(tensor))
            throw new ImagicException($"{where} produced {CountNonFinite(tensor)} NaN or infinite value(s); {hint}.");
    }

    /// <summary>True if no element of <paramref name="tensor"/> is NaN or infinite (always true for integer tensors).</summary>
    public static bool IsAllFinite(Tensor tensor)
    {
        if (!torch.is_floating_point(tensor)) return true;
        using var _ = torch.no_grad();
        using var sum = Sum(tensor);
        return double.IsFinite(sum.item<double>()) || CountNonFinite(tensor) == 0;
    }

    // float32 accumulation, or float64 for float64 tensors; half-precision sums would overflow at 65504.
    static Tensor Sum(Tensor t) => t.sum(t.dtype == ScalarType.Float64 ? ScalarType.Float64 : ScalarType.Float32).to_type(ScalarType.Float64);

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
            var sums = torch.stack(list.Select(t => Sum(t.Value!)).ToArray());
            if (double.IsFinite(sums.sum().item<double>())) return null;
        }
        return list.FirstOrDefault(t => !IsAllFinite(t.Value!)).Name;
    }

    static ImagicException Stopped(string stage, int step, string what, double learningRate) => new(
        $"{stage}, step {step}: {what}, so training stopped (the last checkpoint is kept). " +
        $"The learning rate {learningRate:G3} is probably too high: try a lower one.");

    static string Describe(double value) => double.IsNaN(value) ? "NaN" : value > 0 ? "+infinity" : "-infinity";
}
